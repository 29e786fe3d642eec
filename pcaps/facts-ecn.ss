# time 2026-12-06T00:21:48.09716345Z
# netns client
State Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB 0      0          192.0.2.1:33678    192.0.2.2:112        
ESTAB 0      0          192.0.2.1:45098    192.0.2.2:114        
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:112       0.0.0.0:*           
LISTEN 0      4096       192.0.2.2:114       0.0.0.0:*           
ESTAB  0      0          192.0.2.2:112     192.0.2.1:33678       
ESTAB  0      0          192.0.2.2:114     192.0.2.1:45098       
