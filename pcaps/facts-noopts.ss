# time 2026-12-06T00:21:49.343393603Z
# netns client
State Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB 0      0          192.0.2.1:45102    192.0.2.2:114        
ESTAB 0      0          192.0.2.1:33692    192.0.2.2:112        
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:114       0.0.0.0:*           
LISTEN 0      4096       192.0.2.2:112       0.0.0.0:*           
ESTAB  0      0          192.0.2.2:112     192.0.2.1:33692       
ESTAB  0      0          192.0.2.2:114     192.0.2.1:45102       
