# time 2026-12-06T00:21:45.490474731Z
# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-2 0      0          192.0.2.1:39916    192.0.2.2:113        
ESTAB      0      0          192.0.2.1:45084    192.0.2.2:114        
ESTAB      0      0          192.0.2.1:35318    192.0.2.2:115        
ESTAB      0      0          192.0.2.1:58146    192.0.2.2:112        
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:112       0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:113       0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:114       0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:115       0.0.0.0:*           
ESTAB      0      0          192.0.2.2:112     192.0.2.1:58146       
ESTAB      0      0          192.0.2.2:114     192.0.2.1:45084       
CLOSE-WAIT 0      0          192.0.2.2:113     192.0.2.1:39916       
ESTAB      0      0          192.0.2.2:115     192.0.2.1:35318       
